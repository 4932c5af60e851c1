"""Package data: the embedded Fashion-MNIST subset (MIT, (c) 2017 Zalando SE; see FASHION_MNIST_LICENSE.txt)."""
