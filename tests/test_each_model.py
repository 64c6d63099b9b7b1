"""core.store.each_model: one failing model leaves the others done, with one line saying why."""

from core.store.artifacts import ArtifactError
from core.store.each_model import for_each_model


def test_a_failing_model_gets_one_error_line_and_the_others_still_run(capsys):
    def work(name):
        if name == "vgg12":
            raise ArtifactError("vgg12: not trained yet: no artifact folder")
        if name == "custom":
            raise OSError("disk full")
        return f"{name}: done"

    assert for_each_model(["custom", "vgg12", "vgg12_opt"], work) == 1
    out, err = capsys.readouterr()
    assert out == "vgg12_opt: done\n"
    assert err.splitlines() == [
        "error: custom: disk full",
        "error: vgg12: not trained yet: no artifact folder",
    ]


def test_all_models_done_exit_zero(capsys):
    assert for_each_model(["custom"], lambda name: f"{name}: ok") == 0
    assert capsys.readouterr().out == "custom: ok\n"
