// The users behind the specs' apps and repositories, found by id the way an app's findUser
// finds them. An id missing here is a user who is gone.

/** A user of the specs: an id, and a name to tell apart who was found. */
export interface User {
  id: string;
  name: string;
}

/** Every user of the specs, by id. */
export const users: ReadonlyMap<string, User> = new Map([
  ['1', { id: '1', name: 'ada' }],
  ['2', { id: '2', name: 'grace' }],
  ['3', { id: '3', name: 'linus' }],
]);

export const ada: User = users.get('1')!;
export const grace: User = users.get('2')!;
export const linus: User = users.get('3')!;
