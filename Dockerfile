# The model-monitor image the examples refer to (examples/k8s-*.yaml, examples/kserve-storage-container.yaml):
#
#   docker build -t registry.example.com/model-monitor:0.1.0 .
#   docker run --rm --read-only -v "$PWD/models:/models" registry.example.com/model-monitor:0.1.0 sync --remote … --local_path /models
#
# Built from the packed tarball (what `npm pack` ships, nothing else), installed
# with the lockfile's exact dependency versions; runs as the non-root `node`
# user (uid 1000) and writes nothing outside the model volume, so it runs with
# a read-only root filesystem (docker --read-only, Kubernetes
# readOnlyRootFilesystem: true).
#
# RUN steps use paths relative to WORKDIR or $APP only (test/e2e/dockerfile.test.ts
# runs them outside Docker, each stage's / mapped to a scratch directory).

FROM node:20-bookworm-slim AS build
WORKDIR /build
COPY package.json package-lock.json tsconfig.json tsconfig.build.json rolldown.config.mjs README.md LICENSE ./
COPY bin bin
COPY src src
# npm pack runs the prepack build (tsc, then the rolldown bundle bin/ runs) and writes model-monitor-<version>.tgz here.
RUN npm ci --no-audit --no-fund --ignore-scripts && npm pack --silent
# The tarball's files, plus the production dependencies at the lockfile's versions.
RUN mkdir app && tar -xzf model-monitor-*.tgz -C app --strip-components=1 && cp package-lock.json app/ \
    && cd app && npm ci --omit=dev --ignore-scripts --no-audit --no-fund && rm package-lock.json

FROM node:20-bookworm-slim
ENV NODE_ENV=production APP=/opt/model-monitor
COPY --from=build /build/app /opt/model-monitor
RUN ln -s model-monitor.js "$APP/bin/model-monitor"
ENV PATH=/opt/model-monitor/bin:$PATH
USER node
ENTRYPOINT ["model-monitor"]
CMD ["--help"]
