// Applies the saved theme before first paint (a classic script, loaded in <head>).
try {
  const saved = localStorage.getItem("tg-theme");
  if (saved === "tradeguard" || saved === "tradeguard-light") document.documentElement.dataset.theme = saved;
} catch (err) {
  /* storage unavailable: keep the default theme */
}
