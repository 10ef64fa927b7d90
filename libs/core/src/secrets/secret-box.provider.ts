import type { Provider } from '@nestjs/common';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { SecretBox } from './secret-box';

export const secretBoxProvider: Provider = {
  provide: SecretBox,
  inject: [CHAINVAULT_CONFIG],
  useFactory: (config: ChainvaultConfig) => (config.secretKey ? SecretBox.fromKey(config.secretKey) : SecretBox.fromDataDir(config.dataDir)),
};
