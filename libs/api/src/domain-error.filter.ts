/**
 * Lets domain errors through to the GraphQL error formatter without Nest logging them as
 * server faults: a refused input is an answer, not an incident.
 */
import { Catch, type ArgumentsHost } from '@nestjs/common';
import type { GqlExceptionFilter } from '@nestjs/graphql';
import { ChainvaultError } from '@chainvault/core';

@Catch(ChainvaultError)
export class DomainErrorFilter implements GqlExceptionFilter {
  catch(error: ChainvaultError, _host: ArgumentsHost): ChainvaultError {
    return error;
  }
}
