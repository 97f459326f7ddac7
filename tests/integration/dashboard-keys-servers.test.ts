// The dashboard's cloud keys and servers pages inside workerd: owners only, secrets only masked,
// field errors next to their field, CSRF, and the rows really changed (read back through the pages).
import { describe, expect, it } from 'vitest';
import { listServers } from '../../functions/services/servers.ts';
import { api, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor } from '../helpers/deploy.ts';
import { expectFieldError, page, postForm, signedIn } from '../helpers/dashboard.ts';





const keyIds = (html: string) => [...html.matchAll(/action="\/keys\/(\d+)\/delete"/g)].map((m) => Number(m[1]));
const serverIds = (html: string) => [...new Set([...html.matchAll(/href="\/servers\/(\d+)"/g)].map((m) => Number(m[1])))];
const longSecret = (prefix: string) => `${prefix}${uniqueId('s')}${crypto.randomUUID().replace(/-/g, '')}`;

describe('dashboard cloud keys', () => {
  it('sends a visitor without a session to sign in, for pages and for forms', async () => {
    for (const path of ['/keys', '/servers', '/servers/1']) {
      const response = await api(path, { redirect: 'manual' });
      expect(response.status, path).toBe(303);
      expect(response.headers.get('location')).toBe('/login');
    }
    const posted = await postForm('/keys', {}, { provider: 'htz', cloud_token: longSecret('anon') });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe('/login');
  });

  it('an owner adds keys through the form; the list shows them masked, never the secrets; delete removes one', async () => {
    const owner = uniqueId('keys');
    const headers = await signedIn(owner);
    const empty = await page('/keys', headers);
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('No cloud keys yet.');
    expect(empty.html).toMatch(/<label for="field-provider">Provider<\/label><select id="field-provider" name="provider"/);
    expect(empty.html).toContain('<option value="htz">Hetzner Cloud</option>');

    const token = longSecret('hcl_');
    const accessKey = longSecret('AKIA');
    const secretKey = longSecret('wJal');
    const added = await postForm('/keys', headers, { provider: 'htz', cloud_token: token });
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe('/keys');
    expect(await added.text()).not.toContain(token);
    expect((await postForm('/keys', headers, { provider: 'aws', cloud_key: accessKey, cloud_secret: secretKey })).status).toBe(303);

    const list = await page('/keys', headers);
    expect(list.status).toBe(200);
    expect(list.html).toContain('Hetzner Cloud (htz)');
    expect(list.html).toContain('Amazon Web Services (aws)');
    expect(list.html).toContain(`<code class="secret">hcl_****</code>`);
    expect(list.html).toContain(`<code class="secret">AKIA****</code>`);
    expect(list.html).toContain(`<code class="secret">wJal****</code>`);
    for (const secret of [token, accessKey, secretKey]) {
      expect(list.html).not.toContain(secret);
      expect(list.html).not.toContain(secret.slice(0, 8));
    }
    const ids = keyIds(list.html);
    expect(ids).toHaveLength(2);
    expect(list.html).toContain('data-confirm="Delete this htz key?');

    // Newest first: the AWS key, then the Hetzner one.
    const deleted = await postForm(`/keys/${ids[1]}/delete`, headers, {});
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get('location')).toBe('/keys');
    const after = await page('/keys', headers);
    expect(keyIds(after.html)).toEqual([ids[0]]);
    expect(after.html).not.toContain('Hetzner Cloud (htz)');
    expect(after.html).toContain('Amazon Web Services (aws)');
    expect((await postForm(`/keys/${ids[1]}/delete`, headers, {})).status).toBe(404);
  });

  it('bad input is answered 400 with the message next to its field; nothing is saved and no secret is echoed', async () => {
    const owner = uniqueId('keybad');
    const headers = await signedIn(owner);
    const token = longSecret('tok_');
    const noProvider = await postForm('/keys', headers, { provider: '', cloud_token: token });
    expect(noProvider.status).toBe(400);
    const html = await noProvider.text();
    expectFieldError(html, 'provider', 'must be 2 to 50 characters');
    expect(html).toContain('role="alert"');
    expect(html).not.toContain(token);

    const accessKey = longSecret('AKIA');
    const missingSecret = await postForm('/keys', headers, { provider: 'aws', cloud_key: accessKey });
    expect(missingSecret.status).toBe(400);
    const second = await missingSecret.text();
    expectFieldError(second, 'cloud_secret', 'Amazon Web Services needs the secret access key');
    expect(second).toContain('<option value="aws" selected="">Amazon Web Services</option>');
    expect(second).not.toContain(accessKey);
    expect(second).not.toMatch(/<input id="field-cloud_key"[^>]*aria-invalid/);

    const tooLong = await postForm('/keys', headers, { provider: 'htz', cloud_token: 'x'.repeat(4097) });
    expect(tooLong.status).toBe(400);
    expectFieldError(await tooLong.text(), 'cloud_token', 'must be at most 4096 characters');

    expect((await page('/keys', headers)).html).toContain('No cloud keys yet.');
  });

  it('another user neither sees nor deletes a key: the 404 page shows nothing of it', async () => {
    const owner = uniqueId('keyown');
    const other = uniqueId('keyoth');
    const ownerHeaders = await signedIn(owner);
    const otherHeaders = await signedIn(other);
    const token = longSecret('dop_');
    expect((await postForm('/keys', ownerHeaders, { provider: 'do', cloud_token: token })).status).toBe(303);
    const [id] = keyIds((await page('/keys', ownerHeaders)).html);
    expect(id).toBeGreaterThan(0);

    const theirs = await page('/keys', otherHeaders);
    expect(theirs.status).toBe(200);
    expect(theirs.html).toContain('No cloud keys yet.');
    expect(theirs.html).not.toContain('DigitalOcean (do)');

    const refused = await postForm(`/keys/${id}/delete`, otherHeaders, {});
    expect(refused.status).toBe(404);
    const body = await refused.text();
    expect(body).toContain('Cloud not found');
    expect(body).not.toContain('dop_****');
    expect(body).not.toContain(token);
    expect(keyIds((await page('/keys', ownerHeaders)).html)).toEqual([id]);
    expect((await postForm('/keys/not-a-number/delete', ownerHeaders, {})).status).toBe(404);
  });

  it('forms posted from another origin are refused (CSRF) and change nothing', async () => {
    const owner = uniqueId('keycsrf');
    const headers = await signedIn(owner);
    expect((await postForm('/keys', headers, { provider: 'htz', cloud_token: longSecret('a') }, 'https://evil.example')).status).toBe(403);
    expect((await page('/keys', headers)).html).toContain('No cloud keys yet.');
    expect((await postForm('/keys', headers, { provider: 'htz', cloud_token: longSecret('b') })).status).toBe(303);
    const [id] = keyIds((await page('/keys', headers)).html);
    expect((await postForm(`/keys/${id}/delete`, headers, {}, 'https://evil.example')).status).toBe(403);
    expect(keyIds((await page('/keys', headers)).html)).toEqual([id]);
  });
});

describe('dashboard servers', () => {
  const serverForm = (projectId: number, name: string) => ({
    project_id: String(projectId),
    server: name,
    region: 'fsn1',
    zone: 'a',
    os: 'ubuntu-22.04',
    disk_type: 'ssd',
    srv_ip: '203.0.113.7',
    ssh_port: '22',
    ssh_user: 'root',
  });

  it('an owner adds a server to a project of theirs, sees it listed, edits it on its page and deletes it', async () => {
    const owner = uniqueId('srv');
    const headers = await signedIn(owner);
    const project = await createProjectFor(owner);
    const empty = await page('/servers', headers);
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('No servers yet.');
    expect(empty.html).toContain(`<option value="${project.id}">`);

    const name = uniqueId('cx');
    const added = await postForm('/servers', headers, serverForm(project.id, name));
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe('/servers');

    const list = await page('/servers', headers);
    expect(list.html).toContain(`>${name}</a>`);
    expect(list.html).toContain('203.0.113.7');
    expect(list.html).toContain('root:22');
    // The project has its server now: it is no longer offered.
    expect(list.html).not.toContain(`<option value="${project.id}">`);
    const [id] = serverIds(list.html);
    expect(id).toBeGreaterThan(0);
    expect(list.html).toContain(`action="/servers/${id}/delete"`);
    expect(list.html).toContain('data-confirm="Delete the record of server');

    const edit = await page(`/servers/${id}`, headers);
    expect(edit.status).toBe(200);
    expect(edit.html).toMatch(/<label for="field-srv_ip">IP address<\/label><input id="field-srv_ip" name="srv_ip" type="text" value="203.0.113.7"/);
    expect(edit.html).toContain(`href="/projects/${project.id}"`);

    const renamed = uniqueId('cx');
    const saved = await postForm(`/servers/${id}`, headers, { server: renamed, region: 'nbg1', zone: '', os: 'debian-12', disk_type: '', srv_ip: '2001:db8::1', ssh_port: '2222', ssh_user: 'deploy' });
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe('/servers');
    const reread = await page(`/servers/${id}`, headers);
    expect(reread.html).toContain(`value="${renamed}"`);
    expect(reread.html).toContain('value="2001:db8::1"');
    expect(reread.html).toContain('value="2222"');
    expect(reread.html).toMatch(/<input id="field-zone" name="zone" type="text" value=""/);
    expect(reread.html).not.toContain(`value="${name}"`);
    const [stored] = await withDatabase((db) => listServers(db, owner));
    expect(stored).toMatchObject({ id, project_id: project.id, server: renamed, zone: null, disk_type: null, ssh_port: 2222, ssh_user: 'deploy' });

    const twice = await postForm('/servers', headers, serverForm(project.id, uniqueId('cx')));
    expect(twice.status).toBe(400);
    expectFieldError(await twice.text(), 'project_id', 'this project has a server already: edit that one instead');

    const deleted = await postForm(`/servers/${id}/delete`, headers, {});
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get('location')).toBe('/servers');
    const gone = await page('/servers', headers);
    expect(gone.html).toContain('No servers yet.');
    expect(gone.html).not.toContain(renamed);
    expect((await page(`/servers/${id}`, headers)).status).toBe(404);
  });

  it('bad input is answered 400 with each message next to its field, and nothing changes', async () => {
    const owner = uniqueId('srvbad');
    const headers = await signedIn(owner);
    const project = await createProjectFor(owner);

    const noProject = await postForm('/servers', headers, { ...serverForm(project.id, uniqueId('cx')), project_id: '' });
    expect(noProject.status).toBe(400);
    expectFieldError(await noProject.text(), 'project_id', 'choose one of your projects');

    const bad = await postForm('/servers', headers, { ...serverForm(project.id, uniqueId('cx')), srv_ip: 'not-an-ip', ssh_port: 'abc', region: 'x' });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expectFieldError(html, 'srv_ip', 'must be an IPv4 or IPv6 address');
    expectFieldError(html, 'ssh_port', 'must be a whole number from 20 to 65535');
    expectFieldError(html, 'region', 'must be 2 to 50 characters');
    expect(html).toContain('value="not-an-ip"');
    expect(html).not.toMatch(/<input id="field-os"[^>]*aria-invalid/);
    expect((await page('/servers', headers)).html).toContain('No servers yet.');

    const name = uniqueId('cx');
    expect((await postForm('/servers', headers, serverForm(project.id, name))).status).toBe(303);
    const [id] = serverIds((await page('/servers', headers)).html);
    const badEdit = await postForm(`/servers/${id}`, headers, { server: name, ssh_port: '5' });
    expect(badEdit.status).toBe(400);
    expectFieldError(await badEdit.text(), 'ssh_port', 'must be 20 to 65535');
    const fractional = await postForm(`/servers/${id}`, headers, { server: name, ssh_port: '22.5' });
    expect(fractional.status).toBe(400);
    expectFieldError(await fractional.text(), 'ssh_port', 'must be an integer');
    const unchanged = await page(`/servers/${id}`, headers);
    expect(unchanged.html).toContain('value="203.0.113.7"');
    expect(unchanged.html).toContain('value="22"');
  });

  it('another user’s server: 404 pages with none of its data; edits, deletes and adds to its project are refused', async () => {
    const owner = uniqueId('srvown');
    const other = uniqueId('srvoth');
    const ownerHeaders = await signedIn(owner);
    const otherHeaders = await signedIn(other);
    const project = await createProjectFor(owner);
    const name = uniqueId('cx');
    expect((await postForm('/servers', ownerHeaders, { ...serverForm(project.id, name), srv_ip: '198.51.100.23' })).status).toBe(303);
    const [id] = serverIds((await page('/servers', ownerHeaders)).html);

    const theirs = await page('/servers', otherHeaders);
    expect(theirs.status).toBe(200);
    expect(theirs.html).toContain('No servers yet.');
    expect(theirs.html).not.toContain(name);

    const view = await page(`/servers/${id}`, otherHeaders);
    expect(view.status).toBe(404);
    expect(view.html).toContain('Server not found');
    expect(view.html).not.toContain(name);
    expect(view.html).not.toContain('198.51.100.23');

    const edit = await postForm(`/servers/${id}`, otherHeaders, { server: 'hijacked', srv_ip: '192.0.2.1' });
    expect(edit.status).toBe(404);
    expect(await edit.text()).not.toContain(name);
    const badEdit = await postForm(`/servers/${id}`, otherHeaders, { srv_ip: 'nope' });
    expect(badEdit.status).toBe(404);
    expect(await badEdit.text()).not.toContain('198.51.100.23');
    expect((await postForm(`/servers/${id}/delete`, otherHeaders, {})).status).toBe(404);

    // The other user needs a project of their own to see the add form; the owner's is not theirs to use.
    await createProjectFor(other);
    const intoForeign = await postForm('/servers', otherHeaders, serverForm(project.id, uniqueId('cx')));
    expect(intoForeign.status).toBe(400);
    const intoHtml = await intoForeign.text();
    expectFieldError(intoHtml, 'project_id', 'choose one of your projects');
    expect(intoHtml).not.toContain(`<option value="${project.id}"`);

    const still = await page(`/servers/${id}`, ownerHeaders);
    expect(still.status).toBe(200);
    expect(still.html).toContain(`value="${name}"`);
    expect(still.html).toContain('value="198.51.100.23"');
    expect(still.html).not.toContain('hijacked');
    expect((await page('/servers/not-a-number', ownerHeaders)).status).toBe(404);
  });

  it('forms posted from another origin are refused (CSRF) and change nothing', async () => {
    const owner = uniqueId('srvcsrf');
    const headers = await signedIn(owner);
    const project = await createProjectFor(owner);
    const evil = 'https://evil.example';
    expect((await postForm('/servers', headers, serverForm(project.id, uniqueId('cx')), evil)).status).toBe(403);
    expect((await page('/servers', headers)).html).toContain('No servers yet.');
    const name = uniqueId('cx');
    expect((await postForm('/servers', headers, serverForm(project.id, name))).status).toBe(303);
    const [id] = serverIds((await page('/servers', headers)).html);
    expect((await postForm(`/servers/${id}`, headers, { server: 'changed-by-evil' }, evil)).status).toBe(403);
    expect((await postForm(`/servers/${id}/delete`, headers, {}, evil)).status).toBe(403);
    const still = await page(`/servers/${id}`, headers);
    expect(still.status).toBe(200);
    expect(still.html).toContain(`value="${name}"`);
  });
});
