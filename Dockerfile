# One image for api, worker, sandbox and migrations; the command picks the role.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# Workflow code bundled at build time: workers start without webpack.
RUN node --import tsx workers/bundle.ts /app/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/workflow-bundle.js HOST=0.0.0.0
USER node
CMD ["node", "--import", "tsx", "api/server.ts"]
