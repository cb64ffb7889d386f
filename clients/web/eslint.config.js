// ESLint (flat config) for the browser client and its unit tests: `npm run lint`.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/"] },
  js.configs.recommended,
  {
    rules: {
      // `const { dropped, ...rest } = obj` is how this code leaves a property out of a copy.
      "no-unused-vars": ["error", { ignoreRestSiblings: true }],
    },
  },
  {
    // The pages' ES modules, served as they are: no bundler translates newer syntax for the
    // tablets' browsers, so the linter holds it to ES2022.
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
  {
    // The service worker is a classic script with its own global scope.
    files: ["static/js/sw.js"],
    languageOptions: {
      sourceType: "script",
      globals: { ...globals.serviceworker },
    },
  },
  {
    // Unit tests and this file run in Node (node --test).
    files: ["test/**/*.js", "*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: { ...globals.node },
    },
  },
];
