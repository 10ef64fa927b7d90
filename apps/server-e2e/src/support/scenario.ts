/** The GraphQL calls of the README's first backup, shared by the end-to-end tests. */
import type { GraphqlClient } from './graphql-client';

export const CREATE_NETWORK = `mutation ($input: CreateNetworkInput!) { createNetwork(input: $input) { id name protocol } }`;
export const REGISTER_NODE = `mutation ($input: RegisterNodeInput!) { registerNode(input: $input) { id name plugin role config secretFields } }`;
export const CREATE_DESTINATION = `mutation ($input: CreateDestinationInput!) { createDestination(input: $input) { id name kind config } }`;
export const CREATE_POLICY = `mutation ($input: CreatePolicyInput!) { createPolicy(input: $input) { id name plugin method destinationIds enabled } }`;
export const RUN_BACKUP = `mutation ($policyId: ID!) { runBackup(policyId: $policyId) { id kind status } }`;
export const RESTORE = `mutation ($input: RestoreInput!) { restoreBackup(input: $input) { id kind status restoreId } }`;
export const VERIFY = `mutation ($id: ID!, $readData: Boolean) { verifyBackup(backupId: $id, readData: $readData) { id kind status } }`;
export const BACKUP = `query ($id: ID!) {
  backup(id: $id) { id status plugin method fileCount filesRead filesUnchanged bytesRead logicalSize storedSize verification verifiedAt verificationProblems metadata files { path type size mode sha256 linkTarget } }
}`;

export interface DirectoryPolicy {
  networkId: string;
  nodeId: string;
  destinationId: string;
  policyId: string;
}

/** Registers a directory node for `sourceDir` and a policy writing to a LOCAL repository at `repositoryDir`. */
export async function createDirectoryPolicy(client: GraphqlClient, name: string, sourceDir: string, repositoryDir: string): Promise<DirectoryPolicy> {
  const { createNetwork } = await client.ok(CREATE_NETWORK, { input: { name, protocol: 'directory' } });
  const { registerNode } = await client.ok(REGISTER_NODE, {
    input: { networkId: createNetwork.id, name: `${name}-files`, plugin: 'directory', role: 'node', config: { path: sourceDir } },
  });
  const { createDestination } = await client.ok(CREATE_DESTINATION, { input: { name: `${name}-repo`, kind: 'LOCAL', config: { path: repositoryDir } } });
  const { createPolicy } = await client.ok(CREATE_POLICY, {
    input: { name: `${name}-policy`, nodeId: registerNode.id, method: 'snapshot', destinationIds: [createDestination.id], retention: { keepLast: 7 } },
  });
  return { networkId: createNetwork.id, nodeId: registerNode.id, destinationId: createDestination.id, policyId: createPolicy.id };
}

/** Runs a backup of the policy and returns the completed job. */
export async function backupNow(client: GraphqlClient, policyId: string): Promise<Record<string, any>> {
  const { runBackup } = await client.ok(RUN_BACKUP, { policyId });
  return client.waitForJob(runBackup.id);
}

export async function restoreTo(client: GraphqlClient, backupId: string, targetDir: string): Promise<Record<string, any>> {
  const { restoreBackup } = await client.ok(RESTORE, { input: { backupId, targetConfig: { path: targetDir } } });
  return client.waitForJob(restoreBackup.id);
}
