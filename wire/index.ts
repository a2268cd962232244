// wire: Docker's formats on the socket that both ends speak, the server (api/)
// and its clients (cli/): the stdcopy framing of multiplexed streams.
export { frame, Demuxer, demuxAll, STDIN, STDOUT, STDERR, FRAME_HEADER_SIZE, type Frame, type StreamType } from './stdcopy.js';
