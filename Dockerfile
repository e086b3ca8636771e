# task-janitor runtime image: Node 22 LTS (slim, pinned by digest), production dependencies only,
# compiled JavaScript only (no sources, tests, benchmarks or manifests), numeric non-root user,
# nothing written at run time, so it runs with a read-only root filesystem.
#
# Base digest: docker.io/library/node:22-slim as resolved by BuildKit in public build logs; refresh it
# deliberately (`docker buildx imagetools inspect node:22-slim`); .ci/run reads the Node major from the tag.
ARG NODE_IMAGE=node:22-slim@sha256:83f487e0a63425e5b4d146fb5e5be574bcbe1b7b843d3ebafdd95eaf7767a7e5

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# devDependencies are needed to compile (tsc); they never reach the runtime stage.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="task-janitor" \
      org.opencontainers.image.description="Deletes stale finished batch-task records from cloud providers, safely, through BullMQ on Redis." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:22-slim"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json ./
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
# Files stay root-owned and read-only for the process; it needs no writable path (a /tmp emptyDir is
# mounted anyway). uid:gid 10001 matches the pods' runAsUser/runAsGroup/fsGroup in k8s/.
USER 10001:10001
ENTRYPOINT ["node", "dist/main.js"]
CMD ["run"]
