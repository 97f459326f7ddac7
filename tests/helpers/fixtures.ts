// The reference's own request payloads (a byte-for-byte copy in tests/fixtures/reference-payloads), used as they are.
import cloud from '../fixtures/reference-payloads/cloud.json';
import cloudUpdate from '../fixtures/reference-payloads/cloud-update.json';
import server from '../fixtures/reference-payloads/server.json';
import serverUpdate from '../fixtures/reference-payloads/server-update.json';
import serverUpdateInvalid from '../fixtures/reference-payloads/server-update-invalid.json';

export const fixtures = { cloud, cloudUpdate, server, serverUpdate, serverUpdateInvalid };

import custom from '../fixtures/reference-payloads/custom.json';
import customStack from '../fixtures/reference-payloads/custom-stack-payload.json';
import customStackNoNetworks from '../fixtures/reference-payloads/custom-stack-payload-no-networks.json';
import deploy from '../fixtures/reference-payloads/deploy.json';
import deploy2 from '../fixtures/reference-payloads/deploy2.json';
import oldApp from '../fixtures/reference-payloads/app.json';
import oldWebItem from '../fixtures/reference-payloads/web-item.json';
import oldProject from '../fixtures/reference-payloads/project.json';
import oldProjectUpdate from '../fixtures/reference-payloads/project-update.json';
import goldenCustom from '../golden/compose/custom.yml?raw';
import goldenCustomStack from '../golden/compose/custom-stack-payload.yml?raw';
import goldenCustomStackNoNetworks from '../golden/compose/custom-stack-payload-no-networks.yml?raw';
import goldenDeploy from '../golden/compose/deploy.yml?raw';

/** Project forms the API must accept, with the compose each must produce. */
export const projectForms: Array<{ name: string; body: Record<string, unknown>; compose: string }> = [
  { name: 'custom.json', body: custom, compose: goldenCustom },
  { name: 'custom-stack-payload.json', body: customStack, compose: goldenCustomStack },
  { name: 'custom-stack-payload-no-networks.json', body: customStackNoNetworks, compose: goldenCustomStackNoNetworks },
  { name: 'deploy.json (its project as custom)', body: { custom: (deploy as { project: Record<string, unknown> }).project }, compose: goldenDeploy },
];

/** Older shapes the API must refuse. */
export const oldShapes: Array<{ name: string; body: unknown }> = [
  { name: 'app.json', body: oldApp },
  { name: 'web-item.json', body: oldWebItem },
  { name: 'project.json', body: oldProject },
  { name: 'project-update.json', body: oldProjectUpdate },
];

export const deployBodies = { deploy, deploy2 };
