// The reference's own request payloads (../shared/fixtures/reference-payloads), used as they are.
import cloud from '../../../shared/fixtures/reference-payloads/cloud.json';
import cloudUpdate from '../../../shared/fixtures/reference-payloads/cloud-update.json';
import server from '../../../shared/fixtures/reference-payloads/server.json';
import serverUpdate from '../../../shared/fixtures/reference-payloads/server-update.json';
import serverUpdateInvalid from '../../../shared/fixtures/reference-payloads/server-update-invalid.json';

export const fixtures = { cloud, cloudUpdate, server, serverUpdate, serverUpdateInvalid };
