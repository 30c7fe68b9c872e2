/** The wire contract with the helper (proto/helper.proto), ready to use. */
import './protobufRuntime';
import { checkpoint } from '../generated/helper';

export import pb = checkpoint.helper.v1;
