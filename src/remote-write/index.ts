// remote_write: Prometheus remote-write 1.0 sender with a durable per-endpoint queue.
export {
  createRemoteWriter,
  REMOTE_WRITE_DEFAULTS,
  endpointId,
  endpointLabel,
  type RemoteWriter,
  type RemoteWriterOptions,
  type RemoteWriteEndpoint,
  type EndpointTuning,
  type EndpointStats,
  type RemoteSample,
} from './writer.ts';
export { endpointFromConfig } from './endpoint-config.ts';
