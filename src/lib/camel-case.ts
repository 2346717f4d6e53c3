// snake_case keys as the YAML writes them, camelCase as the code reads them: the one mapping, in values
// and in types, used by the config schema and by the channels that contribute keys to it.

export type CamelCase<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

/** An object type with its keys in camelCase; keys listed in `M` are durations and gain `Ms`. */
export type Camelize<T, M extends string = never> = {
  [K in keyof T as K extends string ? (K extends M ? `${CamelCase<K>}Ms` : CamelCase<K>) : never]: T[K];
};

export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}
