// Reading JSON payloads strictly (docs/service-protocol.md §1): objects only, valid UTF-8, known
// members typed; unknown members ignored. Every failure is `malformed-message`.
import { isUtf8 } from 'node:buffer';
import { type ChannelError, protocolError } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function parseJsonObject(payload: Buffer, what: string): JsonObject {
  if (!isUtf8(payload)) throw malformed(what, 'payload is not valid UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw malformed(what, 'payload is not JSON');
  }
  if (!isJsonObject(value)) throw malformed(what, 'payload is not a JSON object');
  return value;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function malformed(what: string, detail: string): ChannelError {
  return protocolError('malformed-message', `${what}: ${detail}`);
}

/** Typed access to one JSON object's members, naming the message in errors. */
export class JsonReader {
  constructor(
    readonly object: JsonObject,
    readonly what: string,
  ) {}

  private has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.object, key) && this.object[key] !== undefined;
  }

  string(key: string, maxBytes: number, options: { allowEmpty?: boolean } = {}): string {
    const value = this.object[key];
    if (typeof value !== 'string') throw malformed(this.what, `"${key}" must be a string`);
    if (!options.allowEmpty && value.length === 0) throw malformed(this.what, `"${key}" must not be empty`);
    if (Buffer.byteLength(value, 'utf8') > maxBytes) throw malformed(this.what, `"${key}" is longer than ${maxBytes} bytes`);
    return value;
  }

  optionalString(key: string, maxBytes: number): string | undefined {
    return this.has(key) ? this.string(key, maxBytes, { allowEmpty: true }) : undefined;
  }

  /** A string member that may also be JSON null (returned as null). */
  nullableString(key: string, maxBytes: number): string | null {
    return this.object[key] === null ? null : this.string(key, maxBytes);
  }

  integer(key: string, min: number, max: number): number {
    const value = this.object[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw malformed(this.what, `"${key}" must be an integer in [${min}, ${max}]`);
    }
    return value;
  }

  optionalInteger(key: string, min: number, max: number): number | undefined {
    return this.has(key) ? this.integer(key, min, max) : undefined;
  }

  boolean(key: string): boolean {
    const value = this.object[key];
    if (typeof value !== 'boolean') throw malformed(this.what, `"${key}" must be a boolean`);
    return value;
  }

  optionalBoolean(key: string): boolean | undefined {
    return this.has(key) ? this.boolean(key) : undefined;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const value = this.object[key];
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw malformed(this.what, `"${key}" must be one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  object_(key: string): JsonReader {
    const value = this.object[key];
    if (!isJsonObject(value)) throw malformed(this.what, `"${key}" must be an object`);
    return new JsonReader(value, `${this.what}.${key}`);
  }

  optionalObject(key: string): JsonObject | undefined {
    if (!this.has(key)) return undefined;
    return this.object_(key).object;
  }

  array(key: string, maxItems: number): JsonValue[] {
    const value = this.object[key];
    if (!Array.isArray(value)) throw malformed(this.what, `"${key}" must be an array`);
    if (value.length > maxItems) throw malformed(this.what, `"${key}" has more than ${maxItems} items`);
    return value;
  }

  stringArray(key: string, maxItems: number, maxBytes: number): string[] {
    return this.array(key, maxItems).map((item, index) => {
      if (typeof item !== 'string' || item.length === 0 || Buffer.byteLength(item) > maxBytes) {
        throw malformed(this.what, `"${key}"[${index}] must be a non-empty string of at most ${maxBytes} bytes`);
      }
      return item;
    });
  }
}
