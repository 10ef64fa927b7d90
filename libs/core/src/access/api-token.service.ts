/**
 * API tokens: created with a role and shown once, kept only as a SHA-256, checked on every
 * request (so a revocation or an expiry holds at once, on every instance), revocable by name.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IsNull, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { ApiRole, ApiTokenEntity } from '../catalog/entities';
import { uniqueViolation } from '../catalog/unique-violation';
import { CHAINVAULT_CONFIG, type ChainvaultConfig } from '../config/chainvault-config';
import { ChainvaultError } from '../errors/chainvault.errors';
import { CLOCK, type Clock } from '../scheduler/clock';
import { requireName } from '../validation';

/** Who a request comes from, once its token is accepted. */
export interface Principal {
  tokenId: string;
  name: string;
  role: ApiRole;
}

/** Why a token was not accepted; `name` is known when the token exists but may no longer be used. */
export interface TokenRefusal {
  reason: 'missing' | 'unknown' | 'revoked' | 'expired';
  name?: string;
}

export interface CreateToken {
  name: string;
  role: ApiRole;
  expiresAt?: Date | null;
}

/** The file the first start writes the admin token to, inside the data directory. */
export const ADMIN_TOKEN_FILE = 'admin.token';
const TOKEN_PREFIX = 'cvt_';
/** Last use is written at most this often per token, so reads do not turn into writes. */
const LAST_USE_RESOLUTION_MS = 60_000;

const ROLE_RANK: Record<ApiRole, number> = { [ApiRole.VIEWER]: 0, [ApiRole.OPERATOR]: 1, [ApiRole.ADMIN]: 2 };

/** Whether `role` includes the rights of `needed`. */
export function roleIncludes(role: ApiRole, needed: ApiRole): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

@Injectable()
export class ApiTokenService implements OnApplicationBootstrap {
  private readonly logger = new Logger('tokens');
  private readonly lastUseWritten = new Map<string, number>();
  private readonly revokeListeners = new Set<(tokenId: string) => void>();

  constructor(
    @InjectRepository(ApiTokenEntity) private readonly tokens: Repository<ApiTokenEntity>,
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  /** On a catalog without a usable admin token (the first start), makes one and writes it to `<data>/admin.token`. */
  async onApplicationBootstrap(): Promise<void> {
    const now = this.clock.now();
    const admins = await this.tokens.find({ where: { role: ApiRole.ADMIN, revokedAt: IsNull() } });
    if (admins.some((t) => !t.expiresAt || t.expiresAt > now)) return;
    const name = (await this.tokens.existsBy({ name: 'admin' })) ? `admin-${now.toISOString().replace(/\D/g, '').slice(0, 14)}` : 'admin';
    let secret: string;
    try {
      ({ secret } = await this.create({ name, role: ApiRole.ADMIN }, 'chainvault'));
    } catch (error) {
      // Another instance on the same catalog made it first: its data directory has the file.
      if (error instanceof ChainvaultError && error.code === 'CONFLICT') return;
      throw error;
    }
    const file = join(this.config.dataDir, ADMIN_TOKEN_FILE);
    await writePrivateFile(file, `${secret}\n`);
    this.logger.log(`first start: admin token "${name}" written to ${file} (mode 0600); send it as "Authorization: Bearer <token>" (the CLI reads that file by itself)`);
  }

  list(): Promise<ApiTokenEntity[]> {
    return this.tokens.find({ order: { createdAt: 'ASC', name: 'ASC' } });
  }

  /** Makes a token; the secret is returned here once and never again. */
  async create(input: CreateToken, actor: string): Promise<{ token: ApiTokenEntity; secret: string }> {
    const name = requireName(input.name, 'name');
    if (!Object.values(ApiRole).includes(input.role)) throw ChainvaultError.badInput(`role must be one of ${Object.values(ApiRole).join(', ')}, got ${JSON.stringify(input.role)}`);
    const now = this.clock.now();
    if (input.expiresAt && input.expiresAt <= now) throw ChainvaultError.badInput(`expiresAt ${input.expiresAt.toISOString()} is not in the future`);
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const token = this.tokens.create({
      id: randomUUID(),
      name,
      role: input.role,
      tokenHash: hashToken(secret),
      createdAt: now,
      createdBy: actor,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
    });
    try {
      await this.tokens.insert(token);
    } catch (error) {
      if (uniqueViolation(error)) throw ChainvaultError.conflict(`a token named "${name}" already exists; revoked tokens keep their names`);
      throw error;
    }
    await this.audit.record({ actor, action: 'token.create', subjectType: 'token', subjectId: token.id, details: { name, role: token.role, expiresAt: token.expiresAt?.toISOString() ?? null } });
    return { token, secret };
  }

  /** Revokes a token by id or name: every request with it is refused from now on, open WebSockets included. */
  async revoke(ref: string, actor: string): Promise<ApiTokenEntity> {
    const token = (await this.tokens.findOneBy({ id: ref })) ?? (await this.tokens.findOneBy({ name: ref }));
    if (!token) throw ChainvaultError.notFound('token', ref);
    if (!token.revokedAt) {
      token.revokedAt = this.clock.now();
      await this.tokens.update({ id: token.id }, { revokedAt: token.revokedAt });
      await this.audit.record({ actor, action: 'token.revoke', subjectType: 'token', subjectId: token.id, details: { name: token.name } });
    }
    for (const listener of this.revokeListeners) listener(token.id);
    return token;
  }

  /** Called with a token's id when it is revoked here (other instances find out at their next check). */
  onRevoke(listener: (tokenId: string) => void): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  /** Accepts a presented token or says why not. */
  async authenticate(secret: string | null | undefined): Promise<Principal | TokenRefusal> {
    if (!secret) return { reason: 'missing' };
    const token = await this.tokens.findOneBy({ tokenHash: hashToken(secret) });
    if (!token) return { reason: 'unknown' };
    const refusal = this.refusal(token);
    if (refusal) return refusal;
    this.noteUse(token);
    return { tokenId: token.id, name: token.name, role: token.role };
  }

  /** Whether a token accepted earlier (an open WebSocket's) may still be used. */
  async stillValid(tokenId: string): Promise<boolean> {
    const token = await this.tokens.findOneBy({ id: tokenId });
    return token !== null && this.refusal(token) === null;
  }

  private refusal(token: ApiTokenEntity): TokenRefusal | null {
    if (token.revokedAt) return { reason: 'revoked', name: token.name };
    if (token.expiresAt && token.expiresAt <= this.clock.now()) return { reason: 'expired', name: token.name };
    return null;
  }

  private noteUse(token: ApiTokenEntity): void {
    const now = this.clock.now();
    const written = this.lastUseWritten.get(token.id) ?? token.lastUsedAt?.getTime() ?? 0;
    if (now.getTime() - written < LAST_USE_RESOLUTION_MS) return;
    this.lastUseWritten.set(token.id, now.getTime());
    this.tokens.update({ id: token.id }, { lastUsedAt: now }).catch((error: Error) => this.logger.warn(`could not record the last use of token ${token.name}: ${error.message}`));
  }
}

/** Writes a file only its owner can read, replacing any earlier one whole. */
async function writePrivateFile(file: string, content: string): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  await rm(partial, { force: true });
  const handle = await open(partial, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, file);
}

/** Whether a value is a token refusal rather than a principal. */
export function isRefusal(result: Principal | TokenRefusal): result is TokenRefusal {
  return 'reason' in result;
}
