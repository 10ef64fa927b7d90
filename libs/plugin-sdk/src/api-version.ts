/** The plugin API version this SDK implements. Hosts gate plugins on it with semver. */
export const PLUGIN_API_VERSION = '1.1.0';
