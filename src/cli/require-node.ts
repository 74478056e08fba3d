// Imported first by the CLI, before anything else loads: Node 20 is past its end of life and
// oidc-provider wants 22 or later, so say so plainly instead of warning or failing later.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `mcp-oauth-gateway needs Node.js 22 or newer; this is ${process.version}. ` +
      "Install Node.js 24 LTS (or run it with `npx -y -p node@24 -c 'mcp-oauth-gateway ...'`).\n",
  );
  process.exit(1);
}
export {};
