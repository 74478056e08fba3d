import { metadataDocumentChecks, pkceChecks } from './authorize-checks.js';
import { clientChecks } from './client-checks.js';
import { corsChecks } from './cors-checks.js';
import { discoveryChecks } from './discovery-checks.js';
import { registrationChecks } from './registration-checks.js';
import { replicaChecks } from './replica-checks.js';
import { renderReport, type CheckRow } from './report.js';
import { DOCTOR_USAGE, DoctorUsageError, resolveTarget, type DoctorTarget } from './target.js';

/**
 * Every check, in the order a client meets them: discovery, browser CORS, registration, then the
 * authorization request, then the replicas behind it. Each check reports its own failure and the run goes on.
 */
export async function runDoctor(target: DoctorTarget): Promise<CheckRow[]> {
  const { rows: discovery, discovery: found } = await discoveryChecks(target);
  const clients = await clientChecks(target, found);
  const cors = await corsChecks(target);
  const { rows: registration, registered } = await registrationChecks(target);
  const metadataDocuments = await metadataDocumentChecks(target);
  const pkce = await pkceChecks(target, registered);
  const replicas = await replicaChecks(target);
  return [...discovery, ...clients, ...cors, ...registration, ...metadataDocuments, ...pkce, ...replicas];
}

/** `mcp-oauth-gateway doctor <publicUrl> [--server NAME]`: prints the table; 0 all passed, 1 any failed, 2 usage error. */
export async function doctorCommand(positionals: readonly string[], server: string | undefined): Promise<number> {
  let target: DoctorTarget;
  try {
    if (positionals.length > 1) throw new DoctorUsageError(`doctor: one URL please, not ${positionals.length}`);
    target = await resolveTarget(positionals[0], server);
  } catch (error) {
    if (!(error instanceof DoctorUsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${DOCTOR_USAGE}\n`);
    return 2;
  }
  process.stdout.write(`mcp-oauth-gateway doctor: ${target.resource} (issuer ${target.publicUrl})\n\n`);
  const rows = await runDoctor(target);
  process.stdout.write(renderReport(rows));
  return rows.every((row) => row.ok) ? 0 : 1;
}
