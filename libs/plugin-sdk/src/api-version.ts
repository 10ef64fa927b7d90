/** The plugin API version this SDK implements. Hosts gate plugins on it with semver. */
export const PLUGIN_API_VERSION = '2.0.0';

/** The API majors this host loads: 1.x plugins keep working on a 2.x host (see the SDK README). */
export const SUPPORTED_PLUGIN_API_RANGE = '^1.0.0 || ^2.0.0';
