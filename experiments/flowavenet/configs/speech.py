"""FloWaveNet [P026] on espeak-ng speech (16 kHz), conditioned on log-mel spectrograms.

Paper: Kim et al. 2019, "FloWaveNet: A Generative Flow for Raw Audio" (ICML): a single-stage
maximum-likelihood flow vocoder (LJSpeech 22 kHz, 80 mels, hop 256, 8 blocks x 6 flows, 256
channels, in the paper). Here: Shakespeare lines spoken by espeak-ng
(likelihood_jax.data.speech, from the pinned espeak-ng library), clips of 4096 samples, 40 mels,
hop 64, a few blocks of narrow WaveNets. Reports test NLL (nats per sample and bits per 16-bit
sample) and writes a generated WAV into the workdir at every evaluation.
The data is the registered ``speech_mel`` (clips with their log-mel spectrograms,
:mod:`likelihood_jax.data.synthetic.conditional_audio`); its options, the spectrogram's
included, are the ``dataset`` fields. Modes: ``runlocal`` (the test suite), default (README
numbers), ``full`` (paper-sized model, for an accelerator). Numbers reached: see
experiments/flowavenet/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("flowavenet", dataset="speech_mel")
    config.dataset.update({
        "length": 4096, "min_rms": 0.02, "max_train_clips": 0, "max_test_clips": 0,  # 0: all
        "sample_rate": 16000, "n_fft": 256, "hop_length": 64, "n_mels": 40, "fmin": 0.0,
    })
    config.model = ml_collections.ConfigDict({
        "upsample_factors": (8, 8), "num_blocks": 4, "num_flows": 4, "num_layers": 2,
        "hidden": 32, "blocks_per_split": 2,
    })
    config.sample_temperature = 0.8
    config.optim.lr = 1e-3
    config.optim.grad_clip_norm = 10.0
    config.batch_size = 8
    config.eval_batch_size = 40
    config.total_steps = 200
    config.log_every = 50
    config.eval_every = 0
    config.checkpoint_every = 200
    apply_mode(config, arg, {
        "runlocal": {
            "dataset.length": 512, "dataset.max_train_clips": 256, "dataset.max_test_clips": 32,
            "model.upsample_factors": (4, 4), "dataset.hop_length": 16, "dataset.n_fft": 64,
            "dataset.n_mels": 16, "model.num_blocks": 2, "model.num_flows": 2,
            "model.hidden": 16, "model.blocks_per_split": 1, "total_steps": 40,
            "log_every": 10, "checkpoint_every": 40, "eval_batch_size": 32,
        },
        "full": {
            "dataset.length": 16384, "model.upsample_factors": (16, 16), "dataset.n_fft": 1024,
            "dataset.hop_length": 256, "dataset.n_mels": 80, "model.num_blocks": 8,
            "model.num_flows": 6, "model.hidden": 256, "model.blocks_per_split": 4,
            "batch_size": 8, "optim.lr": 1e-3, "total_steps": 200000, "log_every": 500,
            "eval_every": 10000, "checkpoint_every": 10000,
        },
    })
    return config
