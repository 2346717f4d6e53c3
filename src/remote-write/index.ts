// remote_write: Prometheus remote-write 1.0 sender with a durable per-endpoint queue.
export {
  createRemoteWriter,
  endpointId,
  endpointLabel,
  type RemoteWriter,
  type RemoteWriterOptions,
  type RemoteWriteEndpoint,
  type EndpointStats,
  type RemoteSample,
} from './writer.ts';
