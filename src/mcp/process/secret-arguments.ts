/**
 * `secretArguments`: tool arguments the gateway fills from the caller's own secrets. The model
 * never sees them (they are removed from the tool's inputSchema in tools/list results) and cannot
 * set them (whatever it sends is replaced), so a key-taking tool works even on a shared process.
 */
import { expandPersonTemplates, secretNamesIn, type PersonValues } from '../../config/person-templates.js';
import type { JsonRpcRequest, JsonRpcResponse } from '../jsonrpc.js';

/** Per tool, argument name → template, as configured. */
export type SecretArguments = Readonly<Record<string, Readonly<Record<string, string>>>>;

type Schema = { properties?: Record<string, unknown>; required?: unknown } & Record<string, unknown>;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The schema without the hidden arguments, in `properties` and in `required`. */
function withoutArguments(schema: Schema, hidden: readonly string[]): Schema {
  const properties = isObject(schema.properties)
    ? Object.fromEntries(Object.entries(schema.properties).filter(([name]) => !hidden.includes(name)))
    : schema.properties;
  const required = Array.isArray(schema.required) ? schema.required.filter((name) => !hidden.includes(name as string)) : schema.required;
  return { ...schema, ...(properties ? { properties } : {}), ...(required ? { required } : {}) };
}

/** A tools/list result with each configured tool's secret arguments removed from its inputSchema. */
export function hideSecretArguments(result: unknown, secretArguments: SecretArguments): unknown {
  if (!isObject(result) || !Array.isArray(result.tools)) return result;
  const tools = result.tools.map((tool: unknown) => {
    if (!isObject(tool) || typeof tool.name !== 'string' || !Object.hasOwn(secretArguments, tool.name)) return tool;
    if (!isObject(tool.inputSchema)) return tool;
    return { ...tool, inputSchema: withoutArguments(tool.inputSchema as Schema, Object.keys(secretArguments[tool.name]!)) };
  });
  return { ...result, tools };
}

/** A process's answer as the client gets it: a tools/list result without the secret arguments. */
export function withSecretArgumentsHidden(method: string, response: JsonRpcResponse, secretArguments: SecretArguments | undefined) {
  if (method !== 'tools/list' || !secretArguments || !response.result) return response;
  return { ...response, result: hideSecretArguments(response.result, secretArguments) };
}

/** The templates of the tool a tools/call names, if it has secret arguments. */
export function secretArgumentsOf(request: JsonRpcRequest, secretArguments: SecretArguments | undefined) {
  if (request.method !== 'tools/call' || !secretArguments) return undefined;
  const tool = request.params?.name;
  return typeof tool === 'string' && Object.hasOwn(secretArguments, tool) ? secretArguments[tool] : undefined;
}

/** The secret names the tool's argument templates use. */
export function secretsOfArguments(templates: Readonly<Record<string, string>>): string[] {
  return [...new Set(Object.values(templates).flatMap(secretNamesIn))];
}

/** The call with the caller's values in place of whatever the model sent for those arguments. */
export function fillSecretArguments(
  request: JsonRpcRequest,
  templates: Readonly<Record<string, string>>,
  person: PersonValues,
): JsonRpcRequest {
  const given = isObject(request.params?.arguments) ? request.params.arguments : {};
  const filled = Object.fromEntries(Object.entries(templates).map(([name, template]) => [name, expandPersonTemplates(template, person)]));
  return { ...request, params: { ...request.params, arguments: { ...given, ...filled } } };
}
