export { RedisMultiTokenGuard } from './guard.js';
export { REQUIRED_SCOPES, RequireScopes } from './scopes.js';
