/** The API gate and the WebSocket sessions, shared by the HTTP middleware and the graphql-ws hooks. */
import { Module } from '@nestjs/common';
import { CoreModule } from '@chainvault/core';
import { ApiGate } from './api-gate';
import { WebSocketSessions } from './websocket-sessions';

@Module({
  imports: [CoreModule],
  providers: [ApiGate, WebSocketSessions],
  exports: [ApiGate, WebSocketSessions],
})
export class SecurityModule {}
