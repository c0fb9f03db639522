// Two pages from one build: the console (index.html, served at /console/) and GraphiQL
// (graphiql.html, served on GET /graphql to browsers). Everything is bundled: no CDN.
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/console/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // No inline script or style: the CSP allows only files from this origin.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    // GraphiQL (its own page, editor and all) is one large chunk; the console stays small.
    chunkSizeWarningLimit: 1100,
    rollupOptions: {
      // GraphiQL's React dependencies mark modules "use client" (a server-components hint that
      // means nothing in a static bundle): not worth a warning per module.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
      input: {
        console: resolve(import.meta.dirname, "index.html"),
        graphiql: resolve(import.meta.dirname, "graphiql.html"),
      },
    },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
