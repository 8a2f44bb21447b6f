// NestJS 11 on @nestjs/platform-express, with @nestjs/passport and the package's guard.
import { describeEdge } from './support/edge-suite.js';
import { startNest, validateCases } from './support/nest-app.js';

describeEdge('NestJS 11 on Express, with @nestjs/passport', {
  start: (tokens) => startNest(tokens, 'express'),
  whileUp: validateCases,
});
