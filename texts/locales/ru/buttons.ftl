### Button labels (plain text) and the command menu.

button-back-to-menu = ◀️ Назад в меню
button-back = ◀️ Назад
# The mark on the current choice.
button-selected = ✅ { $label }

menu-generate = 🎨 Создать картинку
menu-edit = ✏️ Редактировать фото
menu-model = 🤖 Выбрать модель
menu-profile = 👤 Личный кабинет
menu-tokens = 💰 Купить токены
menu-trends = 💡 Идеи и тренды
menu-guide = 📖 Гайд

button-confirm = ✅ Подтвердить
button-cancel = ❌ Отмена
# A finished task of the profile list, to see its picture again.
button-history = 🖼 { $number }. { $kind }

admin-button-stats = 📊 Статистика
admin-button-top-users = 👥 Топ пользователей
admin-button-model-usage = 📈 Использование моделей
admin-button-refresh = 🔄 Обновить

## The command menu of Telegram clients (setMyCommands; Russian is the default list).

command-start = Главное меню
command-balance = Баланс
command-guide = Как пользоваться
command-help = Команды
command-cancel = Отменить действие
