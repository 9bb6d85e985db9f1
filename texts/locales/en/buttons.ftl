### Button labels (plain text) and the command menu.

button-back-to-menu = ◀️ Back to menu
button-back = ◀️ Back
# The mark on the current choice.
button-selected = ✅ { $label }

menu-generate = 🎨 Create a picture
menu-edit = ✏️ Edit a photo
menu-model = 🤖 Choose a model
menu-profile = 👤 My account
menu-tokens = 💰 Buy tokens
menu-trends = 💡 Ideas and trends
menu-guide = 📖 Guide

button-confirm = ✅ Confirm
button-cancel = ❌ Cancel
# A finished task of the profile list, to see its picture again.
button-history = 🖼 { $number }. { $kind }

admin-button-stats = 📊 Statistics
admin-button-top-users = 👥 Top users
admin-button-model-usage = 📈 Model usage
admin-button-refresh = 🔄 Refresh

## The command menu of Telegram clients (setMyCommands for language_code "en").

command-start = Main menu
command-balance = Balance
command-guide = Guide
command-help = Commands
command-cancel = Cancel
