from django import forms


class EntryForm(forms.Form):
    code = forms.CharField(
        label="Access code",
        max_length=80,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "autocorrect": "off",
                "spellcheck": "false",
                "autofocus": True,
                "inputmode": "text",
            }
        ),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
