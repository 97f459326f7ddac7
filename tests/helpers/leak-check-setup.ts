// Runs before each test file of the workers project (vitest.config.ts): after the file's tests, the
// responses it saw go to the leak check.
import { afterAll } from 'vitest';
import { flushResponses } from './api.ts';

afterAll(flushResponses);
