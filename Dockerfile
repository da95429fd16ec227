# syntax=docker/dockerfile:1

# Build: the TypeScript compiler and the other dev tools live only here.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
# Scripts are skipped here because `prepare` builds, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build

# Production dependencies: a fresh install from the lockfile that never sees a
# dev dependency. --ignore-scripts, because `prepare` would try to build.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime: Node, production node_modules, the compiled output; nothing else.
FROM node:24-bookworm-slim AS runtime
WORKDIR /app
# HOST=0.0.0.0: inside a container the loopback default would be unreachable
# from the published port. Metrics listen on their own port; publish it only
# where the scraper can reach it, never to the public.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464
# Owned by root and only readable by the app's user, so the process cannot
# rewrite its own code. dist/package.json is part of the build: app.js imports it.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The image's unprivileged user: a compromise of the process is not root.
USER node
EXPOSE 3000 9464
# Liveness through Node's own fetch: the slim image has no curl or wget, and
# none should be added just for this.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The heap ceiling is npm start's: it keeps RSS well under 256 MiB under a
# flood of distinct ids (npm run bench), far above what the bounded cache needs.
# Exec form, no npm and no shell in between: Node is PID 1 and receives
# SIGTERM itself; close-with-grace drains in-flight requests, then exits 0.
STOPSIGNAL SIGTERM
CMD ["node", "--max-old-space-size=160", "--max-semi-space-size=16", "--heap-growing-percent=200", "--no-allocation-site-pretenuring", "--no-memory-reducer", "dist/src/server.js"]
