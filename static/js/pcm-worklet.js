// AudioWorklet: the microphone → 16 kHz mono signed 16-bit PCM, in frames of about 100 ms,
// each with the audio context time (s) at which its first sample entered the graph.
//
// Resampling uses a windowed-sinc low-pass interpolator (Blackman window, 32 taps, cut off
// just under the new Nyquist frequency), evaluated at each output instant: no aliasing from
// dropped samples, whatever the device's rate (44.1 kHz, 48 kHz, …).

const OUT_RATE = 16000;
const FRAME_SAMPLES = 1600; // 100 ms
const HALF_TAPS = 16;
const PHASES = 256;

function blackman(x) {
  // x in [-1, 1]
  const a = Math.PI * (x + 1);
  return 0.42 - 0.5 * Math.cos(a) + 0.08 * Math.cos(2 * a);
}

class PcmProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / OUT_RATE; // input samples per output sample
    // Cut-off as a fraction of the input rate; no filtering needed when not downsampling.
    const cutoff = Math.min(1, 1 / this.ratio) * 0.92;
    this.table = new Float32Array((2 * HALF_TAPS) * PHASES + 1);
    for (let i = 0; i < this.table.length; i += 1) {
      const x = i / PHASES - HALF_TAPS; // distance in input samples
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * cutoff * x) / (Math.PI * cutoff * x);
      this.table[i] = cutoff * sinc * blackman(x / HALF_TAPS);
    }
    this.history = new Float32Array(0); // input samples not yet fully used
    this.position = HALF_TAPS; // next output instant, in input samples within history
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.filled = 0;
    this.sumSquares = 0;
    this.frameTime = 0;
  }

  kernel(distance) {
    const index = (distance + HALF_TAPS) * PHASES;
    const i = Math.floor(index);
    const frac = index - i;
    return this.table[i] * (1 - frac) + this.table[Math.min(i + 1, this.table.length - 1)] * frac;
  }

  push(sample) {
    const clipped = Math.max(-1, Math.min(1, sample));
    this.sumSquares += clipped * clipped;
    this.frame[this.filled] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    this.filled += 1;
    if (this.filled === FRAME_SAMPLES) {
      const level = Math.sqrt(this.sumSquares / FRAME_SAMPLES);
      const pcm = this.frame.buffer;
      this.port.postMessage({ pcm, level, time: this.frameTime }, [pcm]);
      this.frame = new Int16Array(FRAME_SAMPLES);
      this.filled = 0;
      this.sumSquares = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    // Down-mix to mono.
    const length = input[0].length;
    const mono = new Float32Array(length);
    for (const channel of input) {
      for (let i = 0; i < length; i += 1) mono[i] += channel[i] / input.length;
    }
    const buffer = new Float32Array(this.history.length + length);
    buffer.set(this.history);
    buffer.set(mono, this.history.length);

    // currentTime is the context time of this block's first sample, which sits after the
    // history in the buffer.
    const historyLength = this.history.length;
    while (this.position + HALF_TAPS < buffer.length) {
      if (this.filled === 0) this.frameTime = currentTime + (this.position - historyLength) / sampleRate;
      const center = Math.floor(this.position);
      let sum = 0;
      for (let k = center - HALF_TAPS + 1; k <= center + HALF_TAPS; k += 1) {
        sum += buffer[k] * this.kernel(this.position - k);
      }
      this.push(sum);
      this.position += this.ratio;
    }
    // Keep what the next outputs still need.
    const keepFrom = Math.max(0, Math.floor(this.position) - HALF_TAPS);
    this.history = buffer.slice(keepFrom);
    this.position -= keepFrom;
    return true;
  }
}

registerProcessor("pcm-16k", PcmProcessor);
