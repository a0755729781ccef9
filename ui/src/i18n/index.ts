/**
 * Translations: English and Russian, chosen from the saved choice or the
 * browser's language. Every visible string goes through `t()`.
 */
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from './en';
import ru from './ru';

export const LANGUAGES = ['en', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];
const STORE = 'mailroom.lang';

export function detectLanguage(): Language {
  try {
    const saved = localStorage.getItem(STORE);
    if (saved === 'en' || saved === 'ru') return saved;
  } catch {
    /* storage unavailable */
  }
  const nav = typeof navigator !== 'undefined' ? navigator.languages?.[0] ?? navigator.language : 'en';
  return nav && nav.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

export function setLanguage(lang: Language) {
  try {
    localStorage.setItem(STORE, lang);
  } catch {
    /* ignore */
  }
  void i18n.changeLanguage(lang);
  document.documentElement.lang = lang;
}

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, ru: { translation: ru } },
  lng: detectLanguage(),
  fallbackLng: 'en',
  interpolation: { escapeValue: false },
  returnNull: false,
});

export default i18n;
