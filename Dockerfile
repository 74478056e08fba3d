# syntax=docker/dockerfile:1
# mcp-oauth-gateway: build with the dev dependencies, run with the production ones only.
#   docker build -t mcp-oauth-gateway .
#   docker run -v $PWD/gateway.json:/etc/mcp-oauth-gateway/gateway.json:ro -p 127.0.0.1:8080:8080 mcp-oauth-gateway
# (docker-compose.yml runs it behind Caddy with Redis; see the README's "Deploy" section.)

# Node.js 24 LTS (the gateway needs 22 or newer).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the "prepare" script would build before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" runs tsc, which --omit=dev leaves out; the build comes from the
# build stage. lmdb loads its prebuilt binary from its optional platform package.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# What the gateway reads at run time: the compiled code, the page templates and the JSON data
# under src/authz and src/clients (read through src/paths.ts), as in package.json "files".
COPY --from=build /app/dist/src ./dist/src
COPY views ./views
COPY src/authz/*.json ./src/authz/
COPY src/clients/*.json ./src/clients/
# /data for "storage": "lmdb:/data" when running a single container without Redis.
RUN mkdir -p /data /etc/mcp-oauth-gateway && chown node:node /data
USER node
EXPOSE 8080
# Liveness on the port of the compose setup (listen.port 8080).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["start", "--config", "/etc/mcp-oauth-gateway/gateway.json"]
