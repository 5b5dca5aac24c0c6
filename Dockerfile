# syntax=docker/dockerfile:1.7
#
# Gatehouse images: one build, one runtime base, one final stage per component.
#   docker build --target auth-server -t gatehouse/auth-server:0.1.0 .
#   docker build --target gateway     -t gatehouse/gateway:0.1.0 .
#   docker build --target bff         -t gatehouse/bff:0.1.0 .
# Every component is the same `gatehouse` binary with another subcommand, so the stages differ only in
# their command and ports; see docs/deployment.md. No HEALTHCHECK: the probe's port and scheme depend on
# the configuration (Kubernetes probes are in deploy/kubernetes).

ARG NODE_MAJOR=20

# ---- build: compile TypeScript and the native SQLite driver, then keep production dependencies only
FROM node:${NODE_MAJOR}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
 && npx tsc -b tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && sh deploy/docker/assemble-runtime.sh /out

# ---- runtime: no shell, no package manager, uid 65532
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=build --chown=0:0 /out/ /app/
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
USER 65532:65532
# Config and TLS files come from a read-only mount; the data dir (spools, cursors, the SQLite file
# when no DATABASE_URL is set) is the only writable path.
VOLUME ["/var/lib/gatehouse"]
ENTRYPOINT ["/nodejs/bin/node", "/app/packages/cli/bin/gatehouse.js"]

FROM runtime AS auth-server
EXPOSE 4000 9090
CMD ["auth-server", "--config", "/etc/gatehouse/gatehouse.yaml", "--data-dir", "/var/lib/gatehouse"]

FROM runtime AS gateway
EXPOSE 8080 9091
CMD ["gateway", "--config", "/etc/gatehouse/gatehouse.yaml", "--data-dir", "/var/lib/gatehouse"]

FROM runtime AS bff
EXPOSE 3000
CMD ["bff", "--config", "/etc/gatehouse/gatehouse.yaml", "--data-dir", "/var/lib/gatehouse"]
