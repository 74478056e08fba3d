import { jsonObject, probe } from './http-probe.js';
import { fail, guarded, pass, type CheckRow } from './report.js';
import type { DoctorTarget } from './target.js';

const CHECK = 'replica addresses';

/**
 * Replicas on one Redis forward each other's MCP sessions to the address each advertises; two
 * advertising the same one lose sessions. Each replica watches the directory and says so in
 * /readyz (which names no address: the addresses are in the gateway's log).
 */
export async function replicaChecks(target: DoctorTarget): Promise<CheckRow[]> {
  return [
    await guarded(CHECK, target.publicUrl, async () => {
      const response = await probe(`${target.publicUrl}/readyz`);
      const body = jsonObject(response);
      if (response.status !== 200 || !body) {
        const storage = typeof body?.storage === 'string' ? ` (storage: ${body.storage})` : '';
        return fail(
          CHECK,
          `GET /readyz answered HTTP ${response.status}${storage}`,
          response.status === 503
            ? 'the gateway cannot reach its storage: check "storage" in gateway.json and that Redis is up'
            : 'is a proxy in front answering /readyz itself? pass it through to the gateway',
        );
      }
      if (body.replicas === undefined) return pass(CHECK, 'one instance (embedded storage)');
      if (body.replicas === 'duplicate-address') {
        return fail(
          CHECK,
          'two replicas advertise the same address: requests for the sessions of one reach the other and get "Session not found"',
          'give each replica its own "cluster": { "advertiseUrl": "http://<address the others reach it at>:<port>" }; ' +
            'the gateway log line "cluster.duplicate_address" names the address',
        );
      }
      return pass(CHECK, 'every replica advertises its own address');
    }),
  ];
}
