// stacker.yml's checks before a push (issue 28 point 4), as `stacker config validate` prints them: a
// depends_on on no service and one host port twice are problems at their line and field; an environment
// value naming a host that is no service is a warning there. Names compose allows, db included, pass.
import { describe, expect, it } from 'vitest';
import { formatProblems, parseStackerFile } from '../../cli/stacker/stacker-file.ts';

const file = (services: string) => `name: shop\nservices:\n${services}`;

describe('stacker.yml checks', () => {
  it('takes db as a service name, and depends_on with a condition', () => {
    const parsed = parseStackerFile(file('  db:\n    image: postgres:16.4\n  web:\n    image: nginx:1.27\n    environment:\n      DB_HOST: db\n    depends_on:\n      db:\n        condition: service_healthy\n'));
    expect(parsed).toMatchObject({ ok: true, warnings: [] });
  });

  it('a depends_on on no service is a problem at its line, naming both services', () => {
    const parsed = parseStackerFile(file('  web:\n    image: nginx:1.27\n    depends_on: [db, cache]\n  db:\n    image: postgres:16.4\n'));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(formatProblems('stacker.yml', parsed.problems)).toEqual(['stacker.yml:5:22: services.web.depends_on.1: service "web" depends on "cache", which is no service of this file']);
  });

  it('one host port twice is a problem, also when one of them names an address; two addresses are two ports', () => {
    const clash = parseStackerFile(file('  web:\n    image: nginx:1.27\n    ports: ["127.0.0.1:8080:80"]\n  api:\n    image: nginx:1.27\n    ports: ["8080:8080"]\n'));
    expect(clash.ok ? [] : clash.problems.map((problem) => `${problem.field}: ${problem.message}`)).toEqual(['services.api.ports.0: host port 8080/tcp is already published by web']);
    const apart = parseStackerFile(file('  web:\n    image: nginx:1.27\n    ports: ["127.0.0.1:8080:80"]\n  api:\n    image: nginx:1.27\n    ports: ["10.0.0.2:8080:8080"]\n'));
    expect(apart.ok).toBe(true);
  });

  it('an environment value naming a host that is no service is a warning at its line', () => {
    const parsed = parseStackerFile(file('  wordpress:\n    image: wordpress:6.6\n    environment:\n      WORDPRESS_DB_HOST: mysql\n      WORDPRESS_DB_NAME: wordpress\n  mariadb:\n    image: mariadb:11.4\n'));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(formatProblems('stacker.yml', parsed.warnings)).toEqual([
      'stacker.yml:6:26: services.wordpress.environment.WORDPRESS_DB_HOST: warning: service "wordpress": WORDPRESS_DB_HOST names host "mysql", which is no service of this stack (wordpress, mariadb)',
    ]);
  });
});
