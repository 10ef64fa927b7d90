export { createServer, type ServerOptions } from './server';
export { CONFIG_OPTIONS, ConfigError, DEFAULTS, loadConfig } from './config/config.loader';
export { serve } from './main';
