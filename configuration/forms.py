"""The Configuration page's upload."""

from django import forms

from .schema import MAX_FILE_BYTES


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Configuration file",
        help_text="A YAML file as export_config writes it (at most 5 MB). Secrets are ${env:NAME} references, "
        "resolved from the server's environment.",
    )
    prune = forms.BooleanField(
        label="Also delete what the file does not name (--prune)",
        required=False,
        help_text="Datasources, items and applications missing from the file are deleted.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB: a configuration file may be at most 5 MB."
            )
        try:
            return upload.name, upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                "The file is not UTF-8 text: upload the YAML file export_config wrote."
            ) from None
