"""Time TensorFlow's convolution kernels on Model 1's layer shapes (batch 128, CPU).

    python bench/conv_grad.py

Prints, per layer shape, the forward convolution, TensorFlow's input gradient
(Conv2DBackpropInput) and the same gradient computed as a forward convolution with the flipped
kernel (what core/training/fastconv.py does during training), in milliseconds.
"""

import time

import tensorflow as tf

SHAPES = [(32, 32, 32), (16, 64, 64), (8, 128, 128), (4, 256, 256), (2, 512, 512)]


def timed(fn, repeats: int = 3) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn().numpy()
    return (time.perf_counter() - start) / repeats * 1000


def row(size: int, cin: int, cout: int) -> str:
    x = tf.random.normal((128, size, size, cin))
    w = tf.random.normal((3, 3, cin, cout))
    dy = tf.random.normal((128, size, size, cout))
    flipped = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2])
    forward = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))
    tf_grad = tf.function(
        lambda: tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.shape(x), filter=w, out_backprop=dy, strides=[1, 1, 1, 1], padding="SAME"
        )
    )
    fast_grad = tf.function(lambda: tf.nn.conv2d(dy, flipped, 1, "SAME"))
    return (
        f"{size:>3}x{size:<2}x{cin:<3} {timed(forward):>8.0f} {timed(tf_grad):>14.0f} "
        f"{timed(fast_grad):>16.0f}"
    )


print(f"{'map':>10} {'forward':>9} {'TF input grad':>14} {'as forward conv':>16}")
for shape in SHAPES:
    print(row(*shape))
