// Types of the console's operations from the committed SDL: a schema change that breaks an
// operation fails `npm run build` here (and `./dev lint` in tools/contracts.py, without Node).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: "src/operations/*.graphql",
  generates: {
    "src/generated/graphql.ts": {
      plugins: ["typescript", "typescript-operations"],
      config: {
        enumsAsTypes: true,
        onlyOperationTypes: true,
        useTypeImports: true,
        avoidOptionals: { field: true, inputValue: false, object: false },
        scalars: { DateTime: "string", Date: "string", JSON: "Record<string, unknown>", ID: "string" },
      },
    },
  },
};
export default config;
