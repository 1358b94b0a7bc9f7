// The JSON Schema of ambrosia.yaml, generated from the zod schema (docs/config.schema.json is
// this, written by scripts/write-schema.mjs and compared by a test). The environment mapping
// and the path resolution also read it: one description of the file drives all three.
import * as z from 'zod';
import { configSchema } from './schema.js';

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  const?: unknown;
  enum?: unknown[];
  format?: string;
  default?: unknown;
  description?: string;
  [key: string]: unknown;
};

export const SCHEMA_ID = 'https://ambrosia.invalid/config.schema.json';

let cached: JsonSchema | undefined;

/** The schema of the file as written (input): keys with defaults are optional. */
export function configJsonSchema(): JsonSchema {
  cached ??= { $id: SCHEMA_ID, ...(z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as JsonSchema) };
  return structuredClone(cached);
}

/** A key of the file: its path, and the schema of its value. */
export interface ConfigLeaf {
  path: readonly string[];
  schema: JsonSchema;
}

/**
 * Every settable key that is not itself a section: scalars, lists and unions. Sections
 * (objects with properties) are walked into.
 */
export function configLeaves(schema: JsonSchema = configJsonSchema()): ConfigLeaf[] {
  const leaves: ConfigLeaf[] = [];
  const walk = (node: JsonSchema, path: string[]): void => {
    if (node.type === 'object' && node.properties !== undefined) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, [...path, key]);
      return;
    }
    leaves.push({ path, schema: node });
  };
  walk(schema, []);
  return leaves;
}

/** The JSON types a leaf accepts ('integer', 'string', 'null', ...). */
export function acceptedTypes(schema: JsonSchema): Set<string> {
  const types = new Set<string>();
  const add = (node: JsonSchema): void => {
    if (Array.isArray(node.type)) node.type.forEach((t) => types.add(t));
    else if (typeof node.type === 'string') types.add(node.type);
    node.anyOf?.forEach(add);
  };
  add(schema);
  return types;
}

/** Names of the keys that hold a path (`format: path`), wherever they are, list items included. */
export function pathKeyNames(schema: JsonSchema = configJsonSchema()): Set<string> {
  const names = new Set<string>();
  const walk = (node: JsonSchema): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (child.format === 'path') names.add(key);
      walk(child);
    }
    if (node.items !== undefined) walk(node.items);
    node.anyOf?.forEach(walk);
  };
  walk(schema);
  return names;
}
