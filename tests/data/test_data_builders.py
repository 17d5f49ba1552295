"""The builders package: names and versions that key the built datasets, and import costs."""

import subprocess
import sys

from likelihood_jax.data import builders, speech

# Built datasets on disk live under <data_dir>/<name>/<config>/<version>: a changed name or
# version rebuilds every user's data, so they are pinned here.
EXPECTED = {
    "likelihood_jax_toy2d": "1.0.0",
    "likelihood_jax_digits": "1.0.0",
    "likelihood_jax_mnist5k": "1.0.0",
    "likelihood_jax_shakespeare_char": "1.0.0",
    "likelihood_jax_shakespeare_bpe": "1.0.0",
    "likelihood_jax_names": "1.0.0",
    "likelihood_jax_speech": "1.1.0",
}


def test_builder_names_and_versions_are_unchanged():
    classes = [builders.LikelihoodJaxToy2d, *builders.BUILDERS.values(), speech.builder_class()]
    assert {cls.name: str(cls.VERSION) for cls in classes} == EXPECTED
    assert all(issubclass(cls, builders.QuietBuilder) for cls in classes)


def test_the_package_reexports_each_dataset_module():
    from likelihood_jax.data.builders import (
        digits,
        mnist5k,
        names,
        shakespeare_bpe,
        shakespeare_char,
        toy2d,
    )

    assert builders.BUILDERS == {
        "digits": digits.LikelihoodJaxDigits,
        "mnist5k": mnist5k.LikelihoodJaxMnist5k,
        "shakespeare_char": shakespeare_char.LikelihoodJaxShakespeareChar,
        "shakespeare_bpe": shakespeare_bpe.LikelihoodJaxShakespeareBpe,
        "names": names.LikelihoodJaxNames,
    }
    assert builders.LikelihoodJaxToy2d is toy2d.LikelihoodJaxToy2d
    assert builders.toy_config("moons").name == "moons"
    assert builders.toy_config("moons", 10, 5).name == "moons_train10_test5"


def test_importing_the_loader_imports_no_builder_speech_or_tfds():
    code = (
        "import sys\n"
        "import likelihood_jax.data.loader\n"
        "bad = [m for m in ('tensorflow_datasets', 'likelihood_jax.data.speech',\n"
        "                  'likelihood_jax.data.builders') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
