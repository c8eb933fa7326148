# xllm: the paper's experiment as one DAG. Logic lives in src/xllm; rules call the `xllm` CLI.
from xllm.workflow_hooks import load_config_file

# Config: config.yaml (the paper) unless --configfile is given (e.g. config.demo.yaml via the
# demo profile); the two are never merged.


if not config:  # xllm's loader: a YAML mistake is named by file and line

    config.update(load_config_file("config.yaml"))


envvars:
    "PATH",


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/translate.smk"
include: "workflow/rules/mixture.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/scaling.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        final_outputs(),


onsuccess:
    on_success(workflow)


onerror:
    on_error(log)
