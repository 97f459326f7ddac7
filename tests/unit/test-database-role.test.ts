// The leak check looks for the Worker's database password in everything the run saw (issue 29, "the
// suite"). With the usual local set-up, DATABASE_URL=postgres://postgres:postgres@..., that password is
// the word "postgres", which every page listing the PostgreSQL app shows: the run failed on a fresh
// machine. The run now gives the Worker a database role of its own with a random password, and the leak
// check searches for that, not the administrator's credentials.
import { describe, expect, it, inject } from 'vitest';
import { isSearchable } from '../helpers/leak-check.ts';

describe('the test run’s database role', () => {
  it('the Worker connects as a role of this run, with a random password the leak check can search for', () => {
    const worker = new URL(inject('settings').DATABASE_URL!);
    const admin = new URL(inject('adminDatabaseUrl'));
    expect(worker.username).toMatch(/^stacker_test_[0-9a-f]+$/);
    expect(worker.username).not.toBe(admin.username);
    const password = decodeURIComponent(worker.password);
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(isSearchable(password)).toBe(true);
    expect(password).not.toBe(decodeURIComponent(admin.password));
    // The isolated database of the hostile-input suite is reached the same way.
    expect(new URL(inject('isolatedDatabaseUrl')).username).toBe(worker.username);
  });
});
