// NestJS 11 on @nestjs/platform-fastify, with @nestjs/passport and the package's guard. A
// Fastify request links no response, so here the guard alone sets every challenge.
import { describeEdge } from './support/edge-suite.js';
import { startNest, validateCases } from './support/nest-app.js';

describeEdge('NestJS 11 on Fastify, with @nestjs/passport', {
  start: (tokens) => startNest(tokens, 'fastify'),
  whileUp: validateCases,
});
