/**
 * Configures protobufjs before any generated module loads: 64-bit fields
 * (sizes, times, counters) decode as plain numbers, as the generated types
 * declare (--force-number). Every value we carry stays below 2^53. Without
 * this, decoding yields Long objects whenever the "long" package happens to
 * be resolvable, which differs between the bundle and the compiled tests.
 */
import * as protobuf from 'protobufjs/minimal';

// Its type says a constructor is always there; taking it away is the point.
Reflect.set(protobuf.util, 'Long', undefined);
protobuf.configure();
