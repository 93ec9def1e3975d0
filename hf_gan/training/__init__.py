"""Training with accelerate: `train_gan` (GAN, conditional GAN, InfoGAN) and `train_autoencoder`, configured by the
presets in `configs/` (`--config mnist_cgan`) or a YAML file of your own.

    accelerate launch -m hf_gan.training.train_gan --config mnist_cgan --dataset_name ./mnist
"""
