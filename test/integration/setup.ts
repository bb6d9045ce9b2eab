import { afterAll } from 'vitest';
import { dropTestDatabases } from '../harness.js';

// Each test file's PostgreSQL databases (TETHER_TEST_STORE=postgres) go when the file ends.
afterAll(dropTestDatabases);
